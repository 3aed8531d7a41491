"""Admin for the case side. Cases are managed here by administrators; counsel use the UI."""

from django.contrib import admin, messages

from casework import models


class CaseMembershipInline(admin.TabularInline):
    model = models.CaseMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(models.Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["reference", "title", "respondent", "status", "legal_hold", "opened_at"]
    list_filter = ["status", "legal_hold"]
    search_fields = ["reference", "title", "respondent"]
    inlines = [CaseMembershipInline]
    readonly_fields = ["opened_at", "legal_hold", "legal_hold_since"]

    # A case on legal hold cannot be deleted: everything linked to it is preserved.
    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.legal_hold:
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        held = list(queryset.filter(legal_hold=True).values_list("reference", flat=True))
        if held:
            self.message_user(
                request,
                f"Refused: {', '.join(held)} on legal hold; release the hold first.",
                level=messages.ERROR,
            )
            queryset = queryset.exclude(legal_hold=True)
        super().delete_queryset(request, queryset)


@admin.register(models.CaseMembership)
class CaseMembershipAdmin(admin.ModelAdmin):
    list_display = ["case", "user", "role", "added_at"]
    list_filter = ["role"]


@admin.register(models.CaseAccount)
class CaseAccountAdmin(admin.ModelAdmin):
    list_display = ["case", "account", "basis", "attributed_by", "attributed_at"]
    list_filter = ["basis"]
    raw_id_fields = ["account"]


@admin.register(models.Allegation)
class AllegationAdmin(admin.ModelAdmin):
    list_display = ["case", "clause", "created_by", "created_at"]
    raw_id_fields = ["clause", "supporting_evidence"]


@admin.register(models.ReportJob)
class ReportJobAdmin(admin.ModelAdmin):
    list_display = ["case", "edition", "status", "stage", "percent", "requested_at"]
    list_filter = ["status", "edition"]
    readonly_fields = [f.name for f in models.ReportJob._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # reports are requested through the case, which snapshots it first

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.case.legal_hold:
            return False  # a held case's reports are preserved
        return super().has_delete_permission(request, obj)


@admin.register(models.ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued and revoked with `issue_token`/`revoke_token`, which write the ledger;
    the admin only lists them (the secret itself is never stored)."""

    list_display = ["prefix", "name", "user", "scopes", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "name", "user__username"]
    readonly_fields = [f.name for f in models.ApiToken._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
