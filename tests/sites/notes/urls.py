from django.contrib import admin
from django.contrib.auth import views as auth
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home),
    path("notes/", views.note_list),
    path("notes/new/", views.note_new),
    path("notes/<int:pk>/", views.note_detail),
    path("notes/<int:pk>/edit/", views.note_edit),
    path("mine/", views.mine),
    path("upload/", views.upload),
    path("api/notes/", views.api_notes),
    path("api/notes/<int:pk>/", views.api_note),
    path("accounts/login/", auth.LoginView.as_view(template_name="notes/login.html")),
    path("accounts/logout/", auth.LogoutView.as_view()),
    path("admin/", admin.site.urls),
]
