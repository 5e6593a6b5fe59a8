from django.conf import settings
from django.db import models


class Note(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    public = models.BooleanField(default=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notes")
    created = models.DateTimeField(auto_now_add=True)
    edited = models.DateTimeField(null=True, blank=True)

    def as_json(self) -> dict:
        return {
            "id": self.pk,
            "title": self.title,
            "body": self.body,
            "public": self.public,
            "owner": self.owner.username,
            "created": self.created.isoformat(),
            "edited": self.edited.isoformat() if self.edited else None,
        }


class Attachment(models.Model):
    """A file uploaded through the multipart form at /upload/: what arrived, by its hash."""

    label = models.CharField(max_length=200)
    name = models.CharField(max_length=200)
    size = models.IntegerField()
    sha256 = models.CharField(max_length=64)
