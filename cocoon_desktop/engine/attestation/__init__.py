"""What attests the engine: quote providers (tdx, fake_tdx, none) and the runtime measurement."""
