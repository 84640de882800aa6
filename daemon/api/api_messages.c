/*
 * api_messages.c — what reflexo-api itself says, in English and in Spanish
 * (Django REST framework's own Spanish wording where DRF has one).  The
 * database's messages come translated by the extension's catalogue, chosen
 * with lc_messages per request (api_transaction.c).
 */
#include <string.h>
#include <strings.h>

#include "api.h"

typedef struct Message
{
	const char *id;				/* English, and the id */
	const char *es;
} Message;

static const Message messages[] = {
	{"Authentication credentials were not provided.", "Las credenciales de autenticación no se proveyeron."},
	{"Given token not valid for any token type", "El token dado no es válido para ningún tipo de token"},
	{"Token is invalid or expired", "El token es inválido o ha expirado"},
	{"You do not have permission to perform this action.", "Usted no tiene permiso para realizar esta acción."},
	{"Not found.", "No encontrado."},
	{"Invalid page.", "Página inválida."},
	{"Method \"%s\" not allowed.", "Método \"%s\" no permitido."},
	{"JSON parse error - %s", "Error de análisis JSON - %s"},
	{"Expected a JSON object.", "Se esperaba un objeto JSON."},
	{"This field is required.", "Este campo es requerido."},
	{"This field may not be null.", "Este campo no puede ser nulo."},
	{"Not a valid string.", "No es una cadena válida."},
	{"Ensure this field has no more than %d characters.", "Asegúrese de que este campo no tenga más de %d caracteres."},
	{"Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss][+HH:MM|-HH:MM|Z].",
	"Fecha/hora con formato erróneo. Use uno de los siguientes formatos en su lugar: YYYY-MM-DDThh:mm[:ss][+HH:MM|-HH:MM|Z]."},
	{"Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
	"Fecha con formato erróneo. Use uno de los siguientes formatos en su lugar: YYYY-MM-DD."},
	{"Must be a valid boolean.", "Debe ser un booleano válido."},
	{"Duration has wrong format. Use one of these formats instead: [DD] [HH:[MM:]]ss[.uuuuuu].",
	"Duración con formato erróneo. Use uno de los siguientes formatos en su lugar: [DD] [HH:[MM:]]ss[.uuuuuu]."},
	{"\"%s\" is not a valid choice.", "\"%s\" no es una elección válida."},
	{"A valid integer is required.", "Se requiere un número entero válido."},
	{"Unknown field.", "Campo desconocido."},
	{"Request was throttled. Expected available in %d seconds.",
	"Solicitud fue regulada (throttled). Se espera que esté disponible en %d segundos."},
	{"No active account found with the given credentials",
	"No se encontró una cuenta activa con las credenciales proporcionadas"},
	{"Too many failed logins; try again later.", "Demasiados inicios de sesión fallidos; inténtelo más tarde."},
	{"The database is not available right now; try again shortly.",
	"La base de datos no está disponible en este momento; inténtelo de nuevo en breve."},
	{"A server error occurred.", "Se ha producido un error en el servidor."},
	{"The request took too long.", "La solicitud tardó demasiado."},
	{"GHL's webhooks and OAuth callback are served by reflexo-sync, which does not answer.",
	"Los webhooks y el callback OAuth de GHL los atiende reflexo-sync, que no responde."},
	{"The location still has calendars or citas: deactivate it (is_active = false) instead.",
	"La sede todavía tiene calendarios o citas: desactívela (is_active = false) en su lugar."},
	{"Unsupported media type \"%s\" in request.", "Tipo de medio \"%s\" incompatible en la solicitud."},
};

const char *
api_message(Language language, const char *message_id)
{
	if (language == LANGUAGE_EN)
		return message_id;
	for (size_t i = 0; i < sizeof(messages) / sizeof(*messages); i++)
		if (strcmp(messages[i].id, message_id) == 0)
			return messages[i].es;
	return message_id;
}

/*
 * The first language of Accept-Language that is Spanish or English, else
 * the fallback (weights are not needed to tell two languages apart).
 */
Language
api_language(const char *accept_language, Language fallback)
{
	for (const char *tag = accept_language; tag && *tag; tag += strcspn(tag, ","), tag += *tag == ',')
	{
		tag += strspn(tag, " ");
		if (strncasecmp(tag, "es", 2) == 0 && (tag[2] == '\0' || strchr("-_;, ", tag[2])))
			return LANGUAGE_ES;
		if (strncasecmp(tag, "en", 2) == 0 && (tag[2] == '\0' || strchr("-_;, ", tag[2])))
			return LANGUAGE_EN;
	}
	return fallback;
}
