"""Cocoon's own facts, shared by the network and the earnings sides: TON amounts, upstream's
pricing formula, payment statements and their cells, the TDX quote format, model names."""
