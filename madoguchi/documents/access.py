"""Who may see an application's documents in the back office: an administrator of the
municipality, or a member of the owning department (the procedure's department)."""


def staff_may_see(membership, application) -> bool:
    if membership is None:
        return False
    if membership.is_administrator:
        return True
    return membership.department is not None and membership.department.code == application.procedure.department_code
