"""placeholder"""
def handle(sb, endpoint, request, values):
    from werkzeug.wrappers import Response
    return Response("console", status=200)
