"""What this machine can serve, and why: probes, the checklist, the verdict, the support bundle."""
