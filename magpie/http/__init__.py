"""HTTP only: decode the request, call a service, encode the answer."""
