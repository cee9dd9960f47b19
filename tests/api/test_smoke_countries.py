from fastapi.testclient import TestClient

from tests.api.conftest import BASE


def test_countries_of_the_demo_store(client: TestClient) -> None:
    response = client.get(f"{BASE}/v1/countries")
    assert response.status_code == 200
    codes = [c["code"] for c in response.json()]
    assert codes == ["DE", "FR", "GB", "US"]
