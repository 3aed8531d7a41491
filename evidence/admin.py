"""Admin for the record: read-only. Evidence is never edited through the admin.

A change to a business record would destroy its value as evidence; corrections are new
rows or ledger entries made by services, which write the chain of custody.
"""

from django.contrib import admin

from evidence import models


class ReadOnlyEvidenceAdmin(admin.ModelAdmin):
    """Lists and shows records; refuses add, change and delete for everyone, superusers too."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(models.TermsDocument)
class TermsDocumentAdmin(ReadOnlyEvidenceAdmin):
    list_display = ["slug", "title", "url"]
    search_fields = ["slug", "title"]


@admin.register(models.TermsVersion)
class TermsVersionAdmin(ReadOnlyEvidenceAdmin):
    list_display = ["document", "label", "effective_date", "text_sha256", "imported_at"]
    list_filter = ["document"]


@admin.register(models.Clause)
class ClauseAdmin(ReadOnlyEvidenceAdmin):
    list_display = ["version", "path", "heading", "category"]
    list_filter = ["category", "version__document"]
    search_fields = ["path", "text"]


@admin.register(models.Account)
class AccountAdmin(ReadOnlyEvidenceAdmin):
    list_display = ["account_id", "org_name", "plan", "country", "reseller", "seen_only_in_usage"]
    list_filter = ["plan", "reseller", "seen_only_in_usage"]
    search_fields = ["account_id", "org_name", "email", "payment_fingerprint"]


@admin.register(models.ApiKey)
class ApiKeyAdmin(ReadOnlyEvidenceAdmin):
    list_display = ["key_id", "account", "first_seen_at"]
    search_fields = ["key_id", "account__account_id"]


@admin.register(models.AssentRecord)
class AssentRecordAdmin(ReadOnlyEvidenceAdmin):
    list_display = ["account", "terms_slug", "version_label", "accepted_at", "method"]
    list_filter = ["terms_slug", "version_label", "method"]
    search_fields = ["account__account_id"]


@admin.register(models.UsageEvent)
class UsageEventAdmin(ReadOnlyEvidenceAdmin):
    list_display = ["request_id", "ts", "account", "model", "input_tokens", "output_tokens"]
    list_filter = ["model"]
    search_fields = ["=request_id", "=account__account_id"]
    show_full_result_count = False  # counting millions of rows on every page load is wasteful


@admin.register(models.IngestBatch)
class IngestBatchAdmin(ReadOnlyEvidenceAdmin):
    list_display = [
        "id",
        "kind",
        "file_name",
        "status",
        "accepted",
        "duplicates",
        "rejected",
        "started_at",
    ]
    list_filter = ["kind", "status", "source"]


@admin.register(models.EvidenceItem)
class EvidenceItemAdmin(ReadOnlyEvidenceAdmin):
    list_display = ["file_name", "kind", "sha256", "size", "collector_label", "collected_at"]
    list_filter = ["kind"]


@admin.register(models.LedgerEntry)
class LedgerEntryAdmin(ReadOnlyEvidenceAdmin):
    list_display = ["seq", "recorded_at", "actor", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_id", "actor", "entry_hash"]


@admin.register(models.ConfirmedLabel)
class ConfirmedLabelAdmin(ReadOnlyEvidenceAdmin):
    list_display = ["account", "verdict", "actor", "created_at"]
    list_filter = ["verdict"]
    search_fields = ["account__account_id", "reason", "actor"]
