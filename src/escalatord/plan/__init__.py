"""The escalation plan: assembled purely from the config (data.py, the words of words.py) and
rendered with the Jinja2 templates in templates/ (render.py). `escalatord plan` writes it as a
document (commands/plan.py); the console shows it at /plan (console/plan.py). Both read their
inputs (config, instant, stored overrides) and hand them in: nothing here does IO.
"""
