"""Notes in Django's own admin (/admin/), for tests that record and replay a real admin."""

from django.contrib import admin

from .models import Note


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "public", "created")
    search_fields = ("title",)
