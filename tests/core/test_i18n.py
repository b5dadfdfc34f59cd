from django.urls import reverse


def test_chinese_by_default_english_on_request(client, db):
    assert "登录" in client.get(reverse("login")).content.decode()
    english = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Log in" in english and "登录" not in english


def test_navigation_switches_language(client, people):
    client.force_login(people.worker1)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(reverse("home")).content.decode()
    assert "Households" in page and "Home visits" in page
