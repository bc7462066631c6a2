"""The headless front end for rigs: `serve`, rig files, `worker.conf` import, the journal."""
