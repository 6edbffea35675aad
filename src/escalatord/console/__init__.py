"""The web console: server-rendered pages served by the daemon under `/` when `[web] enabled`.

    app.py         routes(services): every page's routes, the static files (composed here)
    services.py    ConsoleServices: what app.py hands the console (narrow views, no config)
    base.py        Console: templates, sessions, `require(role)` (sign-in, role, CSRF), Visitor
    sessions.py    the signed session cookie and its server-side expiry
    forms.py       urlencoded form bodies
    limits.py      failed sign-ins per address and per name (429)
    feed.py        the board's shared snapshot: one read per refresh for every visitor
    signin.py      /login, /logout
    board.py       / and /board/fragment (the live part)
    status.py      /status (public, no internal detail)
    templates/     Jinja2 (autoescaped); static/ console.css and console.js (no build step)

docs/console.md says how to add a page.
"""
