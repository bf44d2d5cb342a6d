"""Creating members with notify through a running service's incoming API."""

import httpx

from tests.service import Service


def create_members(
    service: Service, emails: list[str], membership_ids: list[int] | None = None
) -> None:
    """POST /api/v1/members?notify=1 for each address; each must be created."""
    with httpx.Client(
        base_url=f"{service.base_url}/api/v1",
        headers={"X-API-Key": service.api_key},
        timeout=30,
    ) as client:
        for email in emails:
            answer = client.post(
                "/members",
                params={"notify": "1"},
                json={
                    "email": email,
                    "first_name": "Ada",
                    "memberships": membership_ids or [],
                },
            )
            assert answer.status_code == 201, answer.text
            assert answer.json()["data"]["notified"] is True


def count_deliveries(service: Service, status: str) -> int:
    code = (
        "from membergate.mail.models import Delivery;"
        f"print(Delivery.objects.filter(status={status!r}).count())"
    )
    out = service.membergate("manage", "shell", "-c", code).stdout
    return int(out.strip().splitlines()[-1])
