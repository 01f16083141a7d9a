"""HTTP plumbing shared by the API functions: one error shape, mapped in one place."""
