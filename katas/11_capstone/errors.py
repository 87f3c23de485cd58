# Kata 11 · Capstone — the errors the API reports itself (given), and their shape (task 7).

from fastapi import HTTPException, Request, status
from fastapi.responses import JSONResponse


class AppError(HTTPException):
    """An error of ours. Until task 7 it answers like any HTTPException: {"detail": message}."""

    code = "error"

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code=status_code, detail=message)


class NoteNotFound(AppError):
    code = "note_not_found"

    def __init__(self) -> None:
        # No id in the message: "not yours" and "does not exist" must read the same.
        super().__init__(status.HTTP_404_NOT_FOUND, "Note not found")


class UsernameTaken(AppError):
    code = "username_taken"

    def __init__(self, username: str) -> None:
        super().__init__(status.HTTP_409_CONFLICT, f"Username {username!r} is already taken")


async def app_error_handler(request: Request, exc: AppError) -> JSONResponse:
    """TODO (task 7): answer `exc` as {"error": {"code": ..., "message": ...}}, same status."""
    raise NotImplementedError("app_error_handler: TODO (task 7)")
