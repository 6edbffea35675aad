"""`python -m escalatord` runs the command line."""

from escalatord.cli import main

main()
