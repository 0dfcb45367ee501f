"""sim: simulated ADCP sales agents — in-memory sellers over MCP, with lifecycle timings and fault knobs.

Stands in for real publishers in local runs, demos and tests (`mediabuy-sync simulate-agent`). Only
`config` and `cli` are importable without the ADCP SDK; everything else needs it (it never runs inside
our web process).
"""
