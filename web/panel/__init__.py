"""The web panel: server-rendered pages for admins, village chiefs and drivers.

`register(app)` installs the blueprints, the CSRF check, the language and the HTML error
pages (web/errors.py calls `error_page` for every path outside /api/).
"""

from __future__ import annotations

from flask import Flask, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from broadcaster import editing
from web.panel import choices, i18n, security
from web.panel.i18n import _

TITLES = {
    400: "Bad request",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    408: "Too slow",
    409: "Cannot do that now",
    413: "The file is too large",
    422: "Please check the input",
    429: "Too many attempts",
}


def error_page(status: int, message: str) -> Response | tuple[str, int]:
    """The HTML answer for an error on a panel page (sign-in page for 401)."""
    if status == 401:
        return redirect(url_for("signin.login_form", next=request.full_path.rstrip("?")))
    if status == 403 and message.startswith("csrf:"):
        message = _("The form's security token is missing or out of date. Reload the page.")
    elif status == 404:
        message = _("There is no such page or object, or it is outside your areas.")
    elif status == 403:
        message = _("Your role may not do this.")
    elif status == 408:
        message = _("The form did not arrive in time. Check the connection and try again.")
    elif status == 413:
        limit = int(current_app.config.get("MAX_CONTENT_LENGTH") or 0)
        message = _(
            "The file is too large: at most %(mb)s MB. Choose a smaller or shorter recording.",
            mb=f"{limit / 2**20:g}",
        )
    elif status >= 500:
        message = _("Something went wrong on the server; the log has details.")
    title = _(TITLES.get(status, "Error"))
    return render_template("panel/error.html", title=title, message=message, me=None), status


def register(app: Flask) -> None:
    """Install the panel on `app`."""
    from web.panel import (
        cap_views,
        dashboard,
        map_views,
        messages,
        programs,
        reports,
        schedules,
        signin,
        speakers,
        urgent_views,
        users,
    )

    i18n.install(app)
    app.jinja_env.globals.update(
        area_groups=choices.area_groups,
        voice_options=choices.voice_options,
        user_name=choices.user_name,
    )
    security.install(app)
    for module in (
        signin,
        dashboard,
        messages,
        programs,
        schedules,
        speakers,
        urgent_views,
        reports,
        users,
        cap_views,
        map_views,
    ):
        app.register_blueprint(module.bp)
    app.extensions["panel.error_page"] = error_page
    # A lexicon saved in the panel replaces config.yaml's from the first request on.
    service = app.extensions["broadcaster"].service
    if service.store.get_meta(editing.LEXICON_KEY):
        editing.apply_lexicon(service, editing.lexicon(service))
