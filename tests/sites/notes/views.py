import hashlib
import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods

from .models import Attachment, Note


def _home(request):
    latest = Note.objects.filter(public=True).order_by("-created")[:5]
    return render(request, "notes/home.html", {"latest": latest})


_home_with_cookie = ensure_csrf_cookie(_home)  # as many sites do for their own AJAX: every visitor gets a cookie


def home(request):
    # With --anonymous-visitors the home page sets no cookie, as on most real sites.
    return _home(request) if settings.NOTES_ANONYMOUS_VISITORS else _home_with_cookie(request)


def note_list(request):
    return render(request, "notes/list.html", {"notes": Note.objects.filter(public=True).order_by("-created"), "title": "All notes"})


@login_required
def mine(request):
    return render(request, "notes/list.html", {"notes": request.user.notes.order_by("-created"), "title": "My notes"})


def note_detail(request, pk: int):
    note = get_object_or_404(Note, pk=pk)
    if not note.public and note.owner != request.user:
        raise Http404
    return render(request, "notes/detail.html", {"note": note})


@login_required
@require_http_methods(["GET", "POST"])
def note_new(request):
    if request.method == "POST":
        title = request.POST.get("title", "").strip()
        if not title:
            return render(request, "notes/form.html", {"error": "A title is needed.", "action": "/notes/new/"}, status=400)
        note = Note.objects.create(title=title, body=request.POST.get("body", ""), owner=request.user, public="public" in request.POST)
        return redirect(f"/notes/{note.pk}/")
    return render(request, "notes/form.html", {"action": "/notes/new/"})


@login_required
@require_http_methods(["GET", "POST"])
def note_edit(request, pk: int):
    note = get_object_or_404(Note, pk=pk, owner=request.user)
    if request.method == "POST":
        note.title = request.POST.get("title", note.title).strip() or note.title
        note.body = request.POST.get("body", note.body)
        note.public = "public" in request.POST
        note.edited = timezone.now()
        note.save()
        return redirect(f"/notes/{note.pk}/")
    return render(request, "notes/form.html", {"note": note, "action": f"/notes/{note.pk}/edit/"})


@require_http_methods(["GET", "POST"])
def api_notes(request):
    if request.method == "POST":
        if not request.user.is_authenticated:
            return JsonResponse({"error": "login required"}, status=403)
        try:
            data = json.loads(request.body)
        except ValueError:
            return HttpResponseBadRequest("invalid JSON")
        note = Note.objects.create(title=str(data.get("title") or "untitled"), body=str(data.get("body", "")), owner=request.user, public=bool(data.get("public", True)))
        return JsonResponse(note.as_json(), status=201)
    notes = Note.objects.filter(public=True).order_by("-created")[:50]
    return JsonResponse({"notes": [n.as_json() for n in notes], "count": len(notes)})


def api_note(request, pk: int):
    note = get_object_or_404(Note, pk=pk)
    if not note.public and note.owner != request.user:
        raise Http404
    return JsonResponse(note.as_json())


@require_http_methods(["GET", "POST"])
def upload(request):
    """A multipart form with its CSRF token: the file's hash is kept, to check what arrived."""
    done = None
    if request.method == "POST":
        data = request.FILES["file"].read()
        done = Attachment.objects.create(label=request.POST.get("label", ""), name=request.FILES["file"].name,
                                         size=len(data), sha256=hashlib.sha256(data).hexdigest())
        return redirect(f"/upload/?done={done.pk}")
    if request.GET.get("done"):
        done = Attachment.objects.filter(pk=request.GET["done"]).first()
    return render(request, "notes/upload.html", {"done": done})
