"""mediabuy-sync: the platform's view of ADCP media buys, kept true."""
