"""An import confirmed in the background: the confirm answers at once with the import's result
page; the page shows the job waiting, its progress and then its counts and problems; only the
requester (and admins) see it; a large import mails its requester. Jobs run through the
project's own runner (``run_jobs``), as a worker runs them."""

import csv
import io
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from crm.jobs import jobs_retry
from crm.models import Job, JobStatus
from customers.exchange import background
from customers.models import Customer, PendingUpload
from tests.conftest import run_jobs
from tests.factories import CustomerFactory, credit_code

pytestmark = pytest.mark.django_db

HEADER = ["Company name", "Credit code", "Industry", "Registered capital (CNY)", "Industry position"]


def customers_file(n: int, *, name="new.csv") -> SimpleUploadedFile:
    buffer = io.StringIO()
    rows = [HEADER] + [[f"Company {i}", credit_code(i), "renewables", "1000000", "leader"] for i in range(1, n + 1)]
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(), content_type="text/csv")


def confirm(client, n: int = 2, **kwargs):
    """Upload a file of ``n`` new customers and confirm it; the job is asked for, not run."""
    preview = client.post(reverse("customers:import"), {"kind": "customers", "file": customers_file(n, **kwargs)})
    assert preview.context["error_count"] == 0
    return client.post(reverse("customers:import_confirm"), {"token": preview.context["token"]})


def test_confirm_answers_at_once_and_the_page_shows_the_counts_once_the_job_ran(client, rm1):
    client.force_login(rm1)
    response = confirm(client, 2)

    job = Job.objects.get()
    assert response["Location"] == reverse("customers:import_result", args=[job.code])
    assert not Customer.objects.exists()  # nothing written yet
    waiting = client.get(response["Location"])
    assert waiting.context["run"].state == "waiting"
    assert "Waiting for a background worker" in waiting.content.decode()

    assert run_jobs() == 1
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.context["run"].state == "done"
    assert 'data-testid="import-created">2<' in html
    assert "Every row was imported." in html
    assert 'hx-trigger="every 2s"' not in html  # finished: the page stops polling
    assert Customer.objects.count() == 2
    assert not PendingUpload.objects.exists()  # the file is gone with the job done


def test_the_polled_fragment_carries_its_trigger_until_the_import_is_done(client, rm1):
    client.force_login(rm1)
    url = confirm(client, 1)["Location"]
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 2s"' in fragment and "<html" not in fragment
    run_jobs()
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 2s"' not in fragment and 'data-state="done"' in fragment


def test_progress_shows_rows_written_of_the_total(client, rm1, settings):
    client.force_login(rm1)
    url = confirm(client, 3)["Location"]
    # A run that stopped after its first chunk (see the re-run test): one of three rows written.
    Job.objects.update(status=JobStatus.RUNNING, progress_total=3, progress_done=1)
    html = client.get(url).content.decode()
    assert "1 of 3 rows written" in html
    assert '<progress id="import-progress" class="import-progress" max="3" value="1"' in html


def test_only_the_requester_and_admins_see_an_import(client, rm1, rm2, admin_user):
    client.force_login(rm1)
    url = confirm(client, 1)["Location"]
    run_jobs()

    teammate = Client()
    teammate.force_login(rm2)
    assert teammate.get(url).status_code == 404
    assert teammate.get(reverse("customers:import_result", args=[uuid.uuid4()])).status_code == 404
    assert "new.csv" not in teammate.get(reverse("customers:imports")).content.decode()
    admin = Client()
    admin.force_login(admin_user)
    assert admin.get(url).status_code == 200
    assert "new.csv" in client.get(reverse("customers:imports")).content.decode()


def test_rows_no_longer_valid_import_nothing_and_the_page_says_which(client, rm1):
    client.force_login(rm1)
    url = confirm(client, 3)["Location"]
    CustomerFactory(credit_code=credit_code(3))  # registered by someone else meanwhile
    run_jobs()

    page = client.get(url)
    html = page.content.decode()
    assert "Nothing was imported" in html
    assert [(e["row"], e["column"]) for e in page.context["run"].errors] == [(4, "Credit code")]
    assert "A customer with this credit code is already registered." in html
    assert Customer.objects.count() == 1  # only the one registered meanwhile


def test_a_conflict_between_chunks_keeps_the_chunks_before_it_and_says_so(client, rm1, settings, monkeypatch):
    settings.IMPORT_CHUNK_ROWS = 1
    client.force_login(rm1)
    url = confirm(client, 3)["Location"]
    writer = background.customer_writer

    def registered_meanwhile(key):
        real = writer(key)

        def write(data, user, part):
            if part.start == 2:  # after the check, before the third row's chunk
                CustomerFactory(credit_code=credit_code(3))
            real.write(data, user, part)

        return background.ImportWriter(check=real.check, write=write)

    monkeypatch.setattr(background, "customer_writer", registered_meanwhile)
    run_jobs()

    html = client.get(url).content.decode()
    assert "rows 2 to 3 were imported, the rest were not" in html
    assert 'data-testid="import-created">2<' in html
    # (The stand-in for the other user's customer went with the refused chunk's rollback.)
    assert set(Customer.objects.filter(owner=rm1).values_list("credit_code", flat=True)) == {
        credit_code(1),
        credit_code(2),
    }


def test_a_run_that_died_half_way_resumes_at_its_checkpoint_and_writes_no_row_twice(client, rm1, settings, monkeypatch):
    settings.IMPORT_CHUNK_ROWS = 1
    client.force_login(rm1)
    url = confirm(client, 3)["Location"]
    writer = background.customer_writer

    def dies_at_the_second_chunk(key):
        real = writer(key)

        def write(data, user, part):
            if part.start == 1:
                raise RuntimeError("the worker was killed")
            real.write(data, user, part)

        return background.ImportWriter(check=real.check, write=write)

    monkeypatch.setattr(background, "customer_writer", dies_at_the_second_chunk)
    run_jobs()
    job = Job.objects.get()
    assert (job.status, job.progress_done, Customer.objects.count()) == (JobStatus.FAILED, 1, 1)
    page = client.get(url).content.decode()
    assert "The import failed" in page and "the worker was killed" in page

    monkeypatch.setattr(background, "customer_writer", writer)
    jobs_retry([job])  # admin: send it again
    run_jobs()
    assert client.get(url).context["run"].result["created"] == 3
    assert sorted(Customer.objects.values_list("credit_code", flat=True)) == sorted(credit_code(i) for i in (1, 2, 3))


def test_a_large_import_mails_its_requester_in_their_language_with_a_link(client, rm1, settings, mailoutbox):
    settings.IMPORT_MAIL_ROWS = 2
    settings.SITE_URL = "https://crm.example.com"
    rm1.language = "zh-hans"
    rm1.save(update_fields=["language"])
    client.force_login(rm1)
    url = confirm(client, 3, name="大文件.csv")["Location"]
    run_jobs()

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [rm1.email]
    assert "大文件.csv" in mail.subject and "导入" in mail.subject
    assert f"https://crm.example.com{url}" in mail.body


def test_a_small_import_sends_no_mail(client, rm1, settings, mailoutbox):
    settings.IMPORT_MAIL_ROWS = 2
    client.force_login(rm1)
    confirm(client, 2)
    run_jobs()
    assert mailoutbox == []


def test_a_large_import_refused_at_confirm_mails_why(client, rm1, settings, mailoutbox):
    settings.IMPORT_MAIL_ROWS = 2
    client.force_login(rm1)
    confirm(client, 3)
    CustomerFactory(credit_code=credit_code(2))  # registered by someone else meanwhile
    run_jobs()
    assert [m.subject for m in mailoutbox] == ["Import finished with problems: new.csv"]
    assert "0 of 3 rows were imported; 1 problems stopped the rest." in mailoutbox[0].body


def test_the_import_pages_link_to_your_imports(client, rm1, risk_officer):
    client.force_login(rm1)
    assert reverse("customers:imports") in client.get(reverse("customers:import")).content.decode()
    client.force_login(risk_officer)
    assert reverse("customers:imports") in client.get(reverse("risk:repayment_import")).content.decode()
