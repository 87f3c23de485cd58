# Kata 11 · Capstone — the errors the API reports itself, and the shape they take.

from fastapi import HTTPException, Request, status
from fastapi.responses import JSONResponse


class AppError(HTTPException):
    """An error of ours. `app_error_handler` answers it as {"error": {"code", "message"}}."""

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
    return JSONResponse(
        status_code=exc.status_code,
        content={"error": {"code": exc.code, "message": exc.detail}},
        headers=exc.headers,
    )
