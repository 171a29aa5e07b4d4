from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.utils import timezone, translation

SESSION_STARTED_KEY = "crm_session_started"


class SessionLifetimeMiddleware:
    """Ends a session 12 hours after login however active it is (the 30-minute idle limit is
    the cookie age, renewed on every request)."""

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
        # Stamp the session in the response that signed the user in (login() rotated its key).
        if request.user.is_authenticated and SESSION_STARTED_KEY not in request.session:
            request.session[SESSION_STARTED_KEY] = timezone.now().timestamp()
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
