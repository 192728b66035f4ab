"""RQ jobs: plain top-level functions taking ids, run by `handoff worker`."""
