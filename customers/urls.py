from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("<uuid:customer_code>/", views.customer_detail, name="detail"),
    path("<uuid:customer_code>/edit/", views.customer_edit, name="edit"),
    path("<uuid:customer_code>/notes/", views.activity_create, name="activity_create"),
    path("<uuid:customer_code>/contacts/new/", views.contact_create, name="contact_create"),
    path(
        "<uuid:customer_code>/contacts/<uuid:contact_code>/edit/",
        views.contact_edit,
        name="contact_edit",
    ),
    path(
        "<uuid:customer_code>/contacts/<uuid:contact_code>/delete/",
        views.contact_delete,
        name="contact_delete",
    ),
]
