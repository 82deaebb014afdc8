"""Roles: a total order, each allowing what the roles below it allow."""

from __future__ import annotations

import itertools

import pytest

from overture.auth import AuthError, Role
from overture.errors import OvertureError

ORDER = [Role.VIEWER, Role.MANAGER, Role.APPROVER, Role.ADMIN]


def test_the_order_and_the_stored_values():
    assert [role.rank for role in ORDER] == [0, 1, 2, 3]
    assert [role.value for role in ORDER] == ["viewer", "manager", "approver", "admin"]
    assert list(Role) == ORDER


@pytest.mark.parametrize(("have", "need"), list(itertools.product(ORDER, ORDER)))
def test_a_role_allows_exactly_the_roles_at_or_below_it(have: Role, need: Role):
    assert have.allows(need) is (ORDER.index(have) >= ORDER.index(need))


def test_the_extremes():
    assert Role.ADMIN.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.MANAGER)
    assert not Role.APPROVER.allows(Role.ADMIN)
    assert Role.MANAGER.allows(Role.MANAGER)


def test_parse_accepts_any_case_and_refuses_unknown_names():
    assert Role.parse(" Approver ") is Role.APPROVER
    assert Role.parse(Role.ADMIN) is Role.ADMIN
    with pytest.raises(AuthError, match="unknown role 'root': expected one of viewer, manager, "
                                        "approver, admin"):
        Role.parse("root")
    assert issubclass(AuthError, OvertureError)


def test_every_role_says_what_it_may_do():
    assert "publishes" in Role.APPROVER.description
    assert "users" in Role.ADMIN.description
    assert len({role.description for role in Role}) == 4
