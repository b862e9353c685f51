from django.urls import path

from . import staff_views, views

app_name = "citizencard"

urlpatterns = [
    path("card-services/", views.portal, name="portal"),
    path("card-services.json", views.export, name="export"),
    path("card-services/tickets/", views.tickets, name="tickets"),
    path("card-services/seal/", views.seal, name="seal"),
    path("staff/card-services/", views.staff, name="staff"),
    path("staff/card-services/seal/", staff_views.seal, name="seal_staff"),
    path("staff/card-services/seal/<int:pk>/revoke/", staff_views.seal_revoke, name="seal_revoke"),
    path("staff/card-services/terminals/", staff_views.terminals, name="terminals"),
    path("staff/card-services/terminals/<int:pk>/revoke/", staff_views.revoke_terminal, name="revoke_terminal"),
    path("staff/card-services/tickets/", staff_views.ticket_types, name="ticket_types"),
    path("staff/card-services/tickets/<int:pk>/", staff_views.ticket_type, name="ticket_type"),
    path("staff/card-services/tickets/<int:pk>/rebind/<int:ticket_id>/", staff_views.rebind, name="rebind"),
    path("staff/card-services/tickets/<int:pk>/cancel/<int:ticket_id>/", staff_views.cancel, name="cancel"),
    path("kiosk/<uuid:terminal>/", views.kiosk, name="kiosk"),
    path("api/terminal/lists", views.terminal_lists, name="terminal_lists"),
    path("api/terminal/events", views.terminal_events, name="terminal_events"),
    path("api/terminal/seal", views.terminal_seal, name="terminal_seal"),
]
