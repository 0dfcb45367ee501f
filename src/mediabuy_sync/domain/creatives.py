"""domain: which creatives a media buy's packages carry — the manifest's by format, or the buy's own list."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def creative_ids_errors(creative_ids: Iterable[str], manifest: Mapping[str, str], accepted: Iterable[str]) -> list[str]:
    """Why a buy's creative_ids override can't be taken (empty when it can): each id must be in the
    campaign's manifest and of a format the buy's products accept — never silently filtered."""
    accepted = set(accepted)
    ids = list(dict.fromkeys(creative_ids))
    unknown = [c for c in ids if c not in manifest]
    wrong = [c for c in ids if c in manifest and manifest[c] not in accepted]
    errors = []
    if unknown:
        errors.append(f"Not linked to this campaign: {', '.join(unknown)}.")
    if wrong:
        errors.append(f"Of a format this media buy's products do not accept ({', '.join(sorted(accepted)) or 'none'}): "
                      f"{', '.join(wrong)}.")
    return errors


def creatives_for(formats: Iterable[str], manifest: Mapping[str, str], override: list[str] | None) -> list[str]:
    """The creatives a package of these formats carries: the buy's override when it has one, else
    the manifest's creatives of those formats (auto-sync)."""
    formats = set(formats)
    chosen = override if override is not None else sorted(manifest)
    return [c for c in chosen if manifest.get(c) in formats]
