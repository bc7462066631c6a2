"""GPU protection: the policy, other programs' GPU use (game mode), how it acts on serving."""
