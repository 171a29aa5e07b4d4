import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# The web server's database sessions say who they are (crm.sql.WEB_APPLICATION), before the
# settings are read: background batches yield to them (crm.sql.yield_to_people).
os.environ.setdefault("DB_APPLICATION_NAME", "crm-web")
# Its pages read a page of rows each: compiling their plans (PostgreSQL's JIT) costs more than it
# saves (config/settings.py).
os.environ.setdefault("DB_JIT", "off")
application = get_wsgi_application()
