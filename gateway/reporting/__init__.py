"""How the bot and the handoff perform: the figures of /reports, `handoff
report` and /api/admin/reports (figures.py), and the learning loop's
grouping of the questions the bot could not answer (gaps.py)."""
