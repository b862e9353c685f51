"""市民カード: services a municipality offers on the My Number Card (library card, tickets,
attendance, seal registration card), each a plug-in in one catalog registry."""
