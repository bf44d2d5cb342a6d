from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from membergate.apikeys.models import ApiKey
from membergate.members.models import Member, Membership
from tests.apiclient import Api
from tests.service import Service


@pytest.fixture
def api_key(db: None) -> tuple[ApiKey, str]:
    """A usable key and its secret."""
    return ApiKey.create("zapier")


@pytest.fixture
def make_membership(db: None) -> Callable[..., Membership]:
    def make(title: str = "Gold", **fields: object) -> Membership:
        return Membership.objects.create(title=title, **fields)

    return make


@pytest.fixture
def member(db: None) -> Member:
    return Member.objects.create_user("ada@example.com", first_name="Ada")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """A real `membergate serve`, not yet started, on a database of its own."""
    with Service(tmp_path / "data") as running:
        yield running


@pytest.fixture
def api(api_key: tuple[ApiKey, str]) -> Api:
    """A sender calling /api/v1 with a good key."""
    return Api(api_key[1])
