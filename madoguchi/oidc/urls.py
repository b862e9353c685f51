from django.urls import path

from . import staff_views, views

app_name = "oidc"

urlpatterns = [
    path(".well-known/openid-configuration", views.discovery, name="discovery"),
    path("oidc/jwks", views.jwks, name="jwks"),
    path("oidc/authorize", views.authorize, name="authorize"),
    path("oidc/token", views.token, name="token"),
    path("oidc/userinfo", views.userinfo, name="userinfo"),
    path("oidc/logout", views.logout, name="logout"),
    path("oidc/sign-transactions", views.sign_transactions, name="sign_transactions"),
    path("oidc/sign-transactions/<uuid:transaction_id>/result", views.sign_transaction_result,
         name="sign_transaction_result"),
    path("oidc/consents/<int:consent_id>/revoke", views.revoke_consent, name="revoke_consent"),
    path("staff/oidc/clients/", staff_views.client_list, name="client_list"),
    path("staff/oidc/clients/new/", staff_views.client_add, name="client_add"),
    path("staff/oidc/clients/<int:pk>/deactivate/", staff_views.client_deactivate, name="client_deactivate"),
    path("staff/oidc/clients/<int:pk>/secret/", staff_views.client_secret, name="client_secret"),
    path("staff/oidc/clients/<int:pk>/keys/", staff_views.client_keys, name="client_keys"),
]
