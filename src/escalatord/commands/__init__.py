"""Command groups of the command line, each in a module of its own and registered on cli.py's
`main` group (oncall.py: `escalatord oncall`), and common.py, what every command shares
(config loading, the store, exit codes). With cli.py, the only code that exits the process."""
