from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.utils import timezone, translation

SESSION_STARTED_KEY = "crm_session_started"
SESSION_RENEWED_KEY = "crm_session_renewed"


def stamp_session_start(sender, request, user, **kwargs) -> None:
    """Receiver of user_logged_in: the session's 12 hours start at sign-in (login() has just
    rotated the key, so the stamp is saved with the new session)."""
    if hasattr(request, "session"):
        request.session[SESSION_STARTED_KEY] = timezone.now().timestamp()


class SessionLifetimeMiddleware:
    """Ends a session 12 hours after login however active it is, and renews the idle limit
    (SESSION_COOKIE_AGE, 30 minutes) at most once every SESSION_RENEW_AFTER (a minute) of use.

    Renewing means saving the session: an UPDATE and a commit that waits for the disk. Done on
    every page view (SESSION_SAVE_EVERY_REQUEST) it is the one write of a read-only page, and
    under load each page then waits on the WAL flush that a bulk job's writes make slow. The
    price of once a minute: a session ends 29 to 30 minutes after its last page view.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = timezone.now().timestamp()
            # A session signed in some other way (e.g. an admin's login-as) starts counting now.
            started = request.session.setdefault(SESSION_STARTED_KEY, now)
            if now - started > settings.SESSION_ABSOLUTE_AGE.total_seconds():
                logout(request)
                return redirect_to_login(request.get_full_path())
        response = self.get_response(request)
        if request.user.is_authenticated:
            session, now = request.session, timezone.now().timestamp()
            renewed = session.get(SESSION_RENEWED_KEY, session.get(SESSION_STARTED_KEY, 0))
            # A session saved with this response anyway is renewed by that save; otherwise
            # stamping marks it modified, so it is saved and its cookie sent again.
            if session.modified or now - renewed >= settings.SESSION_RENEW_AFTER.total_seconds():
                session[SESSION_RENEWED_KEY] = now
        return response


class UserLanguageMiddleware:
    """A signed-in user's saved language beats the browser's."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = getattr(request.user, "language", "") if request.user.is_authenticated else ""
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
