"""Compile locale/*/LC_MESSAGES/*.po into .mo files with polib, so a fresh machine needs no
GNU gettext. (Developers extracting new strings use `make messages`, which does need it.)"""

from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Compile the project's .po translation files to .mo (no gettext needed)."

    def handle(self, *args, **options):
        compiled = 0
        for locale_dir in settings.LOCALE_PATHS:
            for po_path in sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po")):
                po = polib.pofile(str(po_path))
                if po.fuzzy_entries() or po.untranslated_entries():
                    raise CommandError(
                        f"{po_path}: {len(po.untranslated_entries())} untranslated and "
                        f"{len(po.fuzzy_entries())} fuzzy entries"
                    )
                mo_path = po_path.with_suffix(".mo")
                if not mo_path.exists() or mo_path.stat().st_mtime < po_path.stat().st_mtime:
                    po.save_as_mofile(str(mo_path))
                    compiled += 1
        self.stdout.write(f"{compiled} translation file(s) compiled.")
