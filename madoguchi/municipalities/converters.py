class MunicipalityCodeConverter:
    """`<municipality:code>` in URLs: six digits. Whether it exists is TenantMiddleware's job."""

    regex = "[0-9]{6}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value) -> str:
        return getattr(value, "code", value)
