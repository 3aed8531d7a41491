"""The ledger API reaches every account the provider names, whatever its id holds.

Account ids are the provider's: `org/team 1` is as valid as `acct_1`. The ledger route takes
the id as the rest of the path (percent-encoded by the client), as the account route does,
so an account whose id holds a `/` has its custody shown, not a 404.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from evidence.models import Account
from tests.factories import token_client, user_with_role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("account_id", ["org/team 1", "acct?x=1", "plain_acct"])
def test_an_accounts_ledger_is_reached_whatever_its_id_holds(account_id):
    Account.objects.create(account_id=account_id)
    client = token_client(user_with_role("ines", "investigator"), "read")
    response = client.get(f"/api/v1/ledger/account/{quote(account_id, safe='')}/")
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []


def test_an_unknown_account_and_a_malformed_item_id_are_404():
    client = token_client(user_with_role("ines", "investigator"), "read")
    assert client.get("/api/v1/ledger/account/no%2Fsuch/").status_code == 404
    assert client.get("/api/v1/ledger/evidence_item/1%2F2/").status_code == 404
