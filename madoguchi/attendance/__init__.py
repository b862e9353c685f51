"""出席・入退館・イベント受付: events and rooms with their registered members, recorded at
attendance terminals by the card without a PIN (issue #21 part 5)."""
