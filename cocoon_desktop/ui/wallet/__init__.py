"""The wallet screen: owner address, node wallet funding, balances, withdraw."""
