from django.urls import URLPattern, path

from membergate.accounts import views

app_name = "accounts"
urlpatterns: list[URLPattern] = [
    path("", views.memberships, name="memberships"),
    path("sign-in/", views.sign_in, name="sign_in"),
    path("sign-out/", views.sign_out, name="sign_out"),
    path("new-link/", views.new_link, name="new_link"),
    path("new-link/sent/", views.new_link_sent, name="new_link_sent"),
    path(
        "set-password/<uidb64>/<token>/",
        views.SetPasswordView.as_view(),
        name="set_password",
    ),
]
