"""`python -m gateway.cli`: the `handoff` command without its console script
(how `handoff run` starts its worker)."""

from gateway.cli import main

main(prog_name="handoff")
