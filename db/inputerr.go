package db

// Data exceptions PostgreSQL raises only for a value it was sent: where a caller's
// value reaches a statement without having been validated first, they are the
// caller's mistake (a 400 in the surface's envelope), never a 500.
var badInputCodes = []string{
	"22021", // character_not_in_repertoire: a NUL or invalid UTF-8 in text
	"22P05", // untranslatable_character: \u0000 in jsonb
	"22P02", // invalid_text_representation: a malformed uuid, number or inet
	"22008", // datetime_field_overflow: a time outside PostgreSQL's range
	"22007", // invalid_datetime_format
	"22003", // numeric_value_out_of_range
}

// BadInputMessage answers a value PostgreSQL refused (IsBadInputValue): it names no
// SQL and no column, only that a value sent cannot be used.
const BadInputMessage = "a value in the request cannot be used (a NUL character, invalid UTF-8, or a number or time out of range)"

// IsBadInputValue reports a data exception that only a value the caller sent can
// cause (see badInputCodes).
func IsBadInputValue(err error) bool {
	for _, c := range badInputCodes {
		if isCode(err, c) {
			return true
		}
	}
	return false
}
