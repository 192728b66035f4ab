"""What an admin changes, one module per thing configured, shared by the
settings pages, the admin API and the `handoff` command: validation, the
change itself and its "settings.changed" audit row, in the caller's
transaction. Refusals are ApiErrors (gateway/errors.py): the API answers
them as JSON, the pages show them beside the form, the CLI on one line.
"""
