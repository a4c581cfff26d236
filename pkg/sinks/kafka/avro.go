package kafka

import (
	"encoding/binary"
	"fmt"

	"github.com/linkedin/goavro/v2"
)

// Avro is the old tool's option: the payload (the layout's JSON) encoded
// with schema, in the Confluent wire format a Schema Registry consumer
// reads: magic byte 0, the schema ID (4 bytes, big-endian), the Avro body.
type Avro struct {
	SchemaID int    `yaml:"schemaID"`
	Schema   string `yaml:"schema"`
}

type avroEncoder struct {
	id    uint32
	codec *goavro.Codec
}

func (a *Avro) encoder(path string) (*avroEncoder, error) {
	if a.SchemaID < 0 || a.SchemaID > 1<<31-1 {
		return nil, fmt.Errorf("%s.schemaID: %d is not a schema registry ID", path, a.SchemaID)
	}
	if a.Schema == "" {
		return nil, fmt.Errorf("%s.schema: required (the Avro schema, as JSON)", path)
	}
	codec, err := goavro.NewCodec(a.Schema)
	if err != nil {
		return nil, fmt.Errorf("%s.schema: %w", path, err)
	}
	return &avroEncoder{id: uint32(a.SchemaID), codec: codec}, nil
}

// encode turns the payload's JSON (Avro's JSON encoding) into the wire
// format.
func (e *avroEncoder) encode(payload []byte) ([]byte, error) {
	native, _, err := e.codec.NativeFromTextual(payload)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 5, 5+len(payload))
	binary.BigEndian.PutUint32(buf[1:], e.id)
	return e.codec.BinaryFromNative(buf, native)
}
