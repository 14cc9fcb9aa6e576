"""When the WeCom directory cannot be read: clients that need no directory data never
read it, clients that only show groups get the login without them, and a client
whose access policy or roles need departments or tags is refused (fail closed)."""

from __future__ import annotations

import pytest
from groups_support import client, person, settings

from wecom_oidc.errors import DirectoryUnavailable
from wecom_oidc.identity import Identity
from wecom_oidc.oidc.client_claims import for_client
from wecom_oidc.oidc.models import User

UNPLACED = Identity(subject="zhangsan", name="张三", departments=(3,), main_department=3,
                    department_lineage=(3,), unplaced=True)


class Place:
    """The upstream's place(): the sample directory, or down (WeCom 48002)."""

    def __init__(self, down: bool = False):
        self.down, self.calls = down, 0

    def __call__(self, identity: Identity) -> Identity:
        self.calls += 1
        if self.down:
            raise DirectoryUnavailable("department/list errcode 48002", code=48002,
                                       hint="grant the app contacts access")
        return person(identity.subject, identity.departments, name=identity.name)


def user() -> User:
    return User("zhangsan", {"sub": "zhangsan", "name": "张三"}, 1, "sid", UNPLACED.to_record())


def test_for_client_without_directory_needs_never_reads_it():
    place = Place()
    claims = for_client(settings(client()), user(), "app", "openid profile", place).claims
    assert place.calls == 0 and "groups" not in claims


def test_for_client_groups_scope_reads_the_directory():
    place = Place()
    claims = for_client(settings(client()), user(), "app", "openid groups", place).claims
    assert place.calls == 1 and claims["groups"] == ["研发中心/平台部", "全体研发", "管理层"]


def test_for_client_display_groups_directory_down_login_goes_on_without_them():
    claims = for_client(settings(client(groups="always")), user(), "app", "openid",
                        Place(down=True)).claims
    assert claims["groups"] == []


def test_for_client_extra_claim_department_ids_need_no_directory():
    place = Place(down=True)
    c = client(extra_claims=(("dept_id", "main_department_id"),))
    assert for_client(settings(c), user(), "app", "openid", place).claims["dept_id"] == 3
    assert place.calls == 0


def test_for_client_policy_on_departments_directory_down_fails_closed():
    c = client(allow_departments=("2",))
    with pytest.raises(DirectoryUnavailable) as caught:
        for_client(settings(c), user(), "app", "openid", Place(down=True))
    assert caught.value.status == 503 and caught.value.code == 48002
    assert "'app'" in caught.value.hint


def test_for_client_policy_on_departments_directory_up_sub_department_allowed():
    c = client(allow_departments=("2",))  # zhangsan is in 3, a sub-department of 2
    assert for_client(settings(c), user(), "app", "openid", Place()).sub == "zhangsan"


def test_for_client_policy_on_tags_directory_down_fails_closed():
    with pytest.raises(DirectoryUnavailable):
        for_client(settings(client(allow_tags=("管理层",))), user(), "app", "openid",
                   Place(down=True))


def test_for_client_listed_user_needs_no_directory():
    place = Place(down=True)
    c = client(allow_users=("ZhangSan",), allow_departments=("6",))
    assert for_client(settings(c), user(), "app", "openid", place).sub == "zhangsan"
    assert place.calls == 0


def test_for_client_roles_on_tags_directory_down_fails_closed():
    c = client(roles=(("Admin", ("tag:管理层",)),), role_default="Viewer")
    with pytest.raises(DirectoryUnavailable):
        for_client(settings(c), user(), "app", "openid", Place(down=True))


def test_for_client_roles_on_userids_need_no_directory():
    place = Place(down=True)
    c = client(roles=(("Admin", ("user:zhangsan",)),), role_default="Viewer")
    assert for_client(settings(c), user(), "app", "openid", place).claims["role"] == "Admin"
    assert place.calls == 0
