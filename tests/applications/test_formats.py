import datetime as dt

import pytest

from applications.formats import format_time, parse_time


def test_format_is_utc_compact():
    moment = dt.datetime(2015, 12, 12, 20, 12, 12, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert format_time(moment) == "20151212T121212Z"


def test_parse_round_trips():
    assert format_time(parse_time("20190128T121043Z")) == "20190128T121043Z"


def test_none_stays_none():
    assert format_time(None) is None


def test_bad_time_names_the_shape():
    with pytest.raises(ValueError, match="yyyyMMddTHHmmssZ"):
        parse_time("2019-01-28 12:10:43")
