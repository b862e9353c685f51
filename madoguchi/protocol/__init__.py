"""Wire formats shared by the server and card clients. Pure: never imports Django."""
